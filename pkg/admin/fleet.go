package admin

// fleetRoutes registers the fleet's pages.
func (c *Console) fleetRoutes() {}
