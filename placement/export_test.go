package placement

// WithScanOnly turns the index off: every task is placed by running the
// strategies over all candidates. Tests compare both paths with it.
func WithScanOnly() Option {
	return func(s *options) error {
		s.scanOnly = true
		return nil
	}
}
