namespace Federation.Kubernetes;
