Console.Error.WriteLine("clustermesh: not built yet");
return 1;
