namespace Federation.Lab.DemoApp.Cli;

internal static class Usage
{
    public const string Text = """
        usage:
          lab-demo-app serve --role frontend|productcatalog|catalogdetail --listen IP:PORT --cluster NAME --pod NAME
                             [--version v1] [--upstream http://HOST:PORT]
              GET /        {"service","version","cluster","pod","peer","upstream","error"}; with --upstream it calls the
                           upstream's GET / first (2 s timeout, a new connection each time); 502 when that fails
              GET /healthz 200
          lab-demo-app request --url URL [--count N] [--interval MS] [--timeout MS] [--bind IP]
              N GETs (default 1), each on a new connection, --interval MS apart (default 0), each with a --timeout
              (default 2000), from --bind IP if given; one JSON line per request: {"seq","status","ms","body","error"};
              exit 0 even when some fail
        """;
}
