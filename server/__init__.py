"""warmpool: a self-hostable server for the warm pools of gitpod.v1.PrebuildService."""
