// DemoForgeCore — filled in by its issue.
