using Federation.Lab.ApiServer.Tables;

namespace Federation.Lab.Tests.Tables;

public sealed class HumanDurationTests
{
    [Theory]
    [InlineData(-5, "<invalid>")]
    [InlineData(-1, "0s")]
    [InlineData(0, "0s")]
    [InlineData(5, "5s")]
    [InlineData(119, "119s")]
    [InlineData(120, "2m")]
    [InlineData(200, "3m20s")]
    [InlineData(10 * 60 + 30, "10m")]
    [InlineData(3 * 3600, "3h")]
    [InlineData(3 * 3600 + 25 * 60, "3h25m")]
    [InlineData(30 * 3600, "30h")]
    [InlineData(2 * 86400 + 4 * 3600, "2d4h")]
    [InlineData(3 * 86400, "3d")]
    [InlineData(40 * 86400, "40d")]
    [InlineData(3 * 365 * 86400 + 10 * 86400, "3y10d")]
    [InlineData(9 * 365 * 86400, "9y")]
    public void Ages_read_like_kubectl(int seconds, string expected)
        => Assert.Equal(expected, HumanDuration.Format(TimeSpan.FromSeconds(seconds)));
}
