using System.IO.Pipelines;
using System.Text;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Federation.Kubernetes.Tests.TestSupport;

namespace Federation.Kubernetes.Tests;

public sealed class WatchStreamReaderTests
{
    [Fact]
    public async Task Events_split_across_reads_at_every_byte_are_reassembled()
    {
        var text = Json.Event("ADDED", Json.Service("demo", "a", "5")) + "\n" + Json.Event("MODIFIED", Json.Service("demo", "a", "6")) + "\n" + Json.Bookmark("9") + "\n";
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader.AsStream());

        // One byte per write: every possible split point, including inside multi-byte tokens and right at the newline.
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            await pipe.Writer.WriteAsync(new[] { b });
        }

        await pipe.Writer.CompleteAsync();
        var events = await reading;

        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Bookmark], events.Select(e => e.Type));
        Assert.Equal(["5", "6", "9"], events.Select(e => e.Object!.Metadata.ResourceVersion));
        Assert.Equal("a", events[0].Object!.Metadata.Name);
    }

    [Fact]
    public void An_object_that_does_not_decode_fails_the_line_unless_skipping_where_it_is_named_from_its_metadata()
    {
        var line = Encoding.UTF8.GetBytes(Json.Event("MODIFIED", """{"metadata":{"name":"a","namespace":"demo","uid":"u1","resourceVersion":"7"},"spec":{"ports":"eighty"}}"""));

        Assert.Throws<InvalidDataException>(() => WatchStreamReader.ParseLine(line, Service.JsonTypeInfo));
        var ev = WatchStreamReader.ParseLine(line, Service.JsonTypeInfo, skipUndecodable: true)!;

        Assert.Equal(WatchEventType.Modified, ev.Type);
        Assert.Null(ev.Object);
        Assert.Equal(new UndecodableObject("demo", "a", "u1", "7", UndecodableReason.Malformed, ev.Undecodable!.Error), ev.Undecodable);
        Assert.Contains("ports", ev.Undecodable.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Large_events_grow_the_buffer_and_a_last_line_without_newline_counts()
    {
        var big = new string('x', 100_000);
        var service = Json.Service("demo", "big", "7").Replace("\"spec\":{", $"\"spec\":{{\"externalName\":\"{big}\",", StringComparison.Ordinal);
        var text = "\n" + Json.Event("ADDED", service) + "\r\n\n" + Json.Event("DELETED", Json.Service("demo", "big", "8"));

        var events = await ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)));

        Assert.Equal([WatchEventType.Added, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.Equal(big, events[0].Object!.Spec!.ExtensionData!["externalName"].GetString());
    }

    [Fact]
    public async Task Error_410_event_carries_the_status()
    {
        var events = await ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(Json.Gone("too old resource version: 5 (10)") + "\n")));

        var error = Assert.Single(events);
        Assert.Equal(WatchEventType.Error, error.Type);
        Assert.Null(error.Object);
        Assert.Equal(410, error.Status!.Code);
        Assert.Equal("Expired", error.Status.Reason);
    }

    [Fact]
    public async Task Malformed_event_is_an_InvalidDataException()
    {
        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes("{\"type\":\"ADDED\",\"object\":{\"metadata\":\n"))));
        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes("{\"type\":\"RENAMED\",\"object\":{}}\n"))));
    }

    private static async Task<List<WatchEvent<Service>>> ReadAllAsync(Stream stream)
    {
        var events = new List<WatchEvent<Service>>();
        await foreach (var ev in WatchStreamReader.ReadAsync(stream, Service.JsonTypeInfo))
        {
            events.Add(ev);
        }

        return events;
    }
}
