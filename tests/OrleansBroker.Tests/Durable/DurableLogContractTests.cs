using System.Text;
using OrleansBroker.Durable;

namespace OrleansBroker.Tests.Durable;

/// <summary>The rules of <see cref="IDurableLog"/>, run against each implementation.</summary>
public abstract class DurableLogContractTests
{
    /// <summary>The log under test.</summary>
    protected abstract IDurableLog Log { get; }

    /// <summary>A second handle on the same store, as a second activation of a topic (or a second silo) would hold.</summary>
    protected abstract IDurableLog OtherLog { get; }

    [Fact]
    public async Task Append_NumbersFromOne_BatchAfterBatch()
    {
        var topic = NewTopic();
        Assert.Equal(0, await Log.LastAsync(topic));
        Assert.Equal(1, await Log.AppendAsync(topic, Messages("a", 3)));
        Assert.Equal(4, await Log.AppendAsync(topic, Messages("b", 1)));
        Assert.Equal(5, await Log.AppendAsync(topic, Messages("c", 2)));
        Assert.Equal(6, await Log.LastAsync(topic));
        Assert.Equal(["a0", "a1", "a2", "b0", "c0", "c1"], Bodies(await Log.ReadAsync(topic, 1, 100)));
        Assert.Equal([1L, 2, 3, 4, 5, 6], (await Log.ReadAsync(topic, 1, 100)).Select(m => m.Sequence));
    }

    [Fact]
    public async Task Append_EmptyBatch_ReturnsTheNextNumber_AndKeepsNothing()
    {
        var topic = NewTopic();
        await Log.AppendAsync(topic, Messages("a", 2));
        Assert.Equal(3, await Log.AppendAsync(topic, []));
        Assert.Equal(2, await Log.LastAsync(topic));
    }

    [Fact]
    public async Task Read_ReturnsTheRangeAskedFor()
    {
        var topic = NewTopic();
        await Log.AppendAsync(topic, Messages("m", 10));

        Assert.Equal(["m3", "m4", "m5"], Bodies(await Log.ReadAsync(topic, 4, 3)));
        Assert.Equal([4L, 5, 6], (await Log.ReadAsync(topic, 4, 3)).Select(m => m.Sequence));
        Assert.Equal(["m8", "m9"], Bodies(await Log.ReadAsync(topic, 9, 100)));
        Assert.Equal(["m0"], Bodies(await Log.ReadAsync(topic, 0, 1)));
        Assert.Empty(await Log.ReadAsync(topic, 11, 5));
        Assert.Empty(await Log.ReadAsync(topic, 1_000_000, 5));
        Assert.Empty(await Log.ReadAsync(NewTopic(), 1, 5));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Log.ReadAsync(topic, 1, 0));
    }

    [Fact]
    public async Task Trim_DropsBelowTheFloor_AndReadsSkipWhatWasTrimmed()
    {
        var topic = NewTopic();
        await Log.AppendAsync(topic, Messages("m", 10));
        await Log.TrimAsync(topic, 4);

        var kept = await Log.ReadAsync(topic, 1, 100);
        Assert.Equal(4, kept[0].Sequence);
        Assert.Equal(["m3", "m4", "m5", "m6", "m7", "m8", "m9"], Bodies(kept));
        Assert.Equal([6L, 7], (await Log.ReadAsync(topic, 6, 2)).Select(m => m.Sequence));
        Assert.Equal(10, await Log.LastAsync(topic));
        Assert.Equal(11, await Log.AppendAsync(topic, Messages("n", 1)));
    }

    [Fact]
    public async Task Trim_NeverGoesBack()
    {
        var topic = NewTopic();
        await Log.AppendAsync(topic, Messages("m", 10));
        await Log.TrimAsync(topic, 6);
        await Log.TrimAsync(topic, 3);
        await Log.TrimAsync(topic, 6);
        await Log.TrimAsync(topic, -1);

        Assert.Equal(6, (await Log.ReadAsync(topic, 1, 100))[0].Sequence);
        Assert.Equal(5, (await Log.ReadAsync(topic, 1, 100)).Count);
    }

    [Fact]
    public async Task Trim_PastTheEnd_EmptiesTheLog_AndNumberingGoesOn()
    {
        var topic = NewTopic();
        await Log.AppendAsync(topic, Messages("m", 5));
        await Log.TrimAsync(topic, 100);

        Assert.Empty(await Log.ReadAsync(topic, 1, 100));
        Assert.Equal(5, await Log.LastAsync(topic));
        Assert.Equal(6, await Log.AppendAsync(topic, Messages("n", 2)));
        Assert.Equal([6L, 7], (await Log.ReadAsync(topic, 1, 100)).Select(m => m.Sequence));

        // Trimming an empty or unknown topic changes nothing.
        var empty = NewTopic();
        await Log.TrimAsync(empty, 10);
        Assert.Equal(1, await Log.AppendAsync(empty, Messages("e", 1)));
    }

    [Fact]
    public async Task Delete_DropsTheLog_AndNumberingStartsAgainAtOne()
    {
        var topic = NewTopic();
        await Log.AppendAsync(topic, Messages("m", 5));
        await Log.TrimAsync(topic, 3);
        await Log.DeleteAsync(topic);

        Assert.Equal(0, await Log.LastAsync(topic));
        Assert.Empty(await Log.ReadAsync(topic, 1, 100));
        Assert.Equal(1, await Log.AppendAsync(topic, Messages("n", 1)));
        Assert.Equal(["n0"], Bodies(await Log.ReadAsync(topic, 1, 100)));

        // Deleting an unknown topic is no error.
        await Log.DeleteAsync(NewTopic());
    }

    [Fact]
    public async Task Topics_AreNumberedApart()
    {
        var (a, b) = (NewTopic(), NewTopic());
        await Log.AppendAsync(a, Messages("a", 3));
        Assert.Equal(1, await Log.AppendAsync(b, Messages("b", 1)));
        await Log.DeleteAsync(a);
        Assert.Equal(["b0"], Bodies(await Log.ReadAsync(b, 1, 10)));
    }

    [Fact]
    public async Task LargeBatch_4096MessagesOf1KiB_IsOneAppend_AndReadsBackWhole()
    {
        var topic = NewTopic();
        var batch = Enumerable.Range(0, 4096).Select(i =>
        {
            var body = new byte[1024];
            new Random(i).NextBytes(body);
            return new Message(body, new Dictionary<string, string> { ["i"] = i.ToString() });
        }).ToList();

        Assert.Equal(1, await Log.AppendAsync(topic, Messages("before", 1)));
        Assert.Equal(2, await Log.AppendAsync(topic, batch));
        Assert.Equal(4097, await Log.LastAsync(topic));

        var read = new List<LoggedMessage>();
        while (read.Count < batch.Count)
        {
            read.AddRange(await Log.ReadAsync(topic, 2 + read.Count, 1000));
        }

        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(2 + i, read[i].Sequence);
            Assert.Equal(batch[i].Body.ToArray(), read[i].Message.Body.ToArray());
            Assert.Equal(i.ToString(), read[i].Message.Header["i"]);
        }
    }

    [Fact]
    public async Task BinaryBodiesAndHeaders_RoundTripExactly()
    {
        var topic = NewTopic();
        var everyByte = Enumerable.Range(0, 512).Select(i => (byte)i).ToArray();
        var header = new Dictionary<string, string>
        {
            ["content-type"] = "application/octet-stream",
            ["empty"] = "",
            ["ünïcødé ✓"] = "値 \u0000 \r\n 😀",
            [new string('k', 300)] = new string('v', 70_000),
        };
        Message[] sent =
        [
            new Message(everyByte, header),
            new Message(ReadOnlyMemory<byte>.Empty),
            new Message(new byte[] { 0 }),
            new Message(Encoding.UTF8.GetBytes("\r\n$3\r\nnot resp\r\n"), new Dictionary<string, string> { ["x"] = "1" }),
        ];
        await Log.AppendAsync(topic, sent);

        var read = await Log.ReadAsync(topic, 1, 10);
        Assert.Equal(sent.Length, read.Count);
        for (var i = 0; i < sent.Length; i++)
        {
            Assert.Equal(sent[i].Body.ToArray(), read[i].Message.Body.ToArray());
            Assert.Equal(sent[i].Header.OrderBy(h => h.Key, StringComparer.Ordinal), read[i].Message.Header.OrderBy(h => h.Key, StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task ConcurrentAppends_FromTwoHandles_GetDisjointContiguousRanges()
    {
        var topic = NewTopic();
        const int Writers = 8;
        const int Batches = 25;

        // Each batch's messages name their writer, batch and place, so the log's contents can be checked against its numbers.
        var ranges = await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var log = w % 2 == 0 ? Log : OtherLog;
            var mine = new List<(long First, int Count, string Name)>();
            for (var b = 0; b < Batches; b++)
            {
                var count = 1 + ((w + b) % 5);
                var name = $"w{w}b{b}-";
                mine.Add((await log.AppendAsync(topic, Messages(name, count)), count, name));
            }

            return mine;
        })));

        var all = ranges.SelectMany(r => r).OrderBy(r => r.First).ToList();
        var next = 1L;
        foreach (var (first, count, _) in all)
        {
            Assert.Equal(next, first);
            next += count;
        }

        Assert.Equal(next - 1, await Log.LastAsync(topic));
        var stored = new List<LoggedMessage>();
        while (stored.Count < next - 1)
        {
            stored.AddRange(await OtherLog.ReadAsync(topic, stored.Count + 1, 500));
        }

        foreach (var (first, count, name) in all)
        {
            Assert.Equal(Enumerable.Range(0, count).Select(i => name + i), Bodies(stored.Skip((int)first - 1).Take(count).ToList()));
        }
    }

    private static string NewTopic() => "log-" + Guid.NewGuid().ToString("N");

    private static List<Message> Messages(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => Message.FromString(prefix + i)).ToList();

    private static List<string> Bodies(IReadOnlyList<LoggedMessage> messages) => messages.Select(m => m.Message.BodyAsString()).ToList();
}
