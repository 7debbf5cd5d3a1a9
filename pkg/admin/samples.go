package admin

// sampleRoutes registers a center's samples' pages.
func (c *Console) sampleRoutes() {}
