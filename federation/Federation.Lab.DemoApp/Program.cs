Console.Error.WriteLine("lab-demo-app: not built yet");
return 1;
