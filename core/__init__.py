"""The ground floor every package may stand on: the settings and the records that cross packages."""
