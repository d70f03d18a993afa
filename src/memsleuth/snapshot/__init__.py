"""One consistent capture of the machine: system files, then processes, then cgroups."""
