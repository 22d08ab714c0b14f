// DemoForgeProcess — filled in by its issue.
