using System.Globalization;
using OrleansBroker.Benchmarks.Roles;

namespace OrleansBroker.Benchmarks;

/// <summary>The results as a table: each peer's figure and OrleansBroker's ratio to it.</summary>
internal static class Report
{
    public static void Print(IReadOnlyList<Result> results, IReadOnlyList<string> peers, TextWriter output)
    {
        var others = peers.Where(p => p != Peers.OrleansBroker).ToList();
        var header = new List<string> { "scenario", "unit", "OrleansBroker" };
        foreach (var peer in others)
        {
            header.Add(Peers.Title(peer));
            header.Add("ratio");
        }

        var rows = new List<List<string>> { header };
        foreach (var scenario in results.Select(r => r.Scenario).Distinct())
        {
            var ours = results.FirstOrDefault(r => r.Scenario == scenario && r.Peer == Peers.OrleansBroker);
            var row = new List<string> { scenario, ours?.Unit ?? "", Format(ours) };
            foreach (var peer in others)
            {
                var theirs = results.FirstOrDefault(r => r.Scenario == scenario && r.Peer == peer);
                row.Add(Format(theirs));
                row.Add(ours is null || theirs is null || theirs.Value == 0 || double.IsNaN(ours.Value) || double.IsNaN(theirs.Value) ? "-" : string.Create(CultureInfo.InvariantCulture, $"{ours.Value / theirs.Value:0.00}x"));
            }

            rows.Add(row);
        }

        var widths = Enumerable.Range(0, header.Count).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))));
        }

        foreach (var note in results.Where(r => r.Note is not null))
        {
            output.WriteLine($"note: {note.Scenario}, {Peers.Title(note.Peer)}: {note.Note}");
        }

        output.WriteLine("ratio: OrleansBroker's figure over the peer's (for latency and memory, lower is better, so a ratio under 1 is ahead).");
    }

    // NaN: the peer cannot run the scenario in this build (the note says why).
    private static string Format(Result? result) => result is null
        ? "n/a"
        : double.IsNaN(result.Value) ? "not available"
        : result.Value.ToString(result.Value >= 100 ? "N0" : "0.0", CultureInfo.InvariantCulture);
}
