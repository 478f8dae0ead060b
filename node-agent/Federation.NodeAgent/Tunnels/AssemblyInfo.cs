using System.Runtime.CompilerServices;

// The tunnel benchmark drives the internal tunnel types directly (bench/Federation.Tunnels.Bench); declared here,
// not in the project file, so the tunnel feature stays in its folder.
[assembly: InternalsVisibleTo("Federation.Tunnels.Bench")]
