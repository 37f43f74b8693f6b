"""Virtual disks (``/disks``): qcow2/raw/vmdk/vdi images under the data dir, made, grown, converted
and cloned by qemu-img in background operations (VirtCloud's disk management)."""
