// DemoForgeTesting — filled in by its issue.
