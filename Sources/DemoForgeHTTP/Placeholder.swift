// DemoForgeHTTP — filled in by its issue.
