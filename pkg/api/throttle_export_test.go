package api

// SetLoginThrottle gives s a login throttle of cfg (a fake clock, low
// limits) for the black-box tests of package api_test.
func SetLoginThrottle(s *Server, cfg LoginThrottleConfig) { s.setLoginThrottle(cfg) }
