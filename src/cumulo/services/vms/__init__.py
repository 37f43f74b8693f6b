"""VirtCloud's own paths (``/vm/...``) as aliases of Cumulo's VMs (instances with ``backend: vm``)
and disks (``/disks``): list, start, stop, delete, runtime statistics, and the disk operations."""
