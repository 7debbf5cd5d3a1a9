package bench

// All is every benchmark of `make bench`, in the order of BENCHMARKS.md.
func All() []Benchmark {
	return []Benchmark{
		{Name: "provision", Run: runProvision},
		{Name: "pool", Run: poolBenchmark},
		{Name: "archive", Run: archiveBenchmark},
		{Name: "fleet", Run: runFleet},
		{Name: "requests", Run: requestsBenchmark},
		{Name: "switch", Run: switchBenchmark},
		{Name: "profile", Run: profileBenchmark},
		{Name: "scale", Run: scaleBenchmark},
		{Name: "console", Run: consoleBenchmark},
	}
}
