namespace OrleansBroker.Internal;

/// <summary>A certificate file that cannot be used: the message is one line that names the file, never its password.</summary>
internal sealed class CertificateFileException(string message) : Exception(message);
