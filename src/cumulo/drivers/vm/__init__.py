"""The VM backend: guests under QEMU driven over QMP (``qemu``), their boot artifacts built locally
(``artifacts``: kernel, initramfs, root disks from catalogue images), disk images (``images``:
qemu-img), the accelerator probe (``accel``) and the driver that routes each instance to its engine
(``routed``)."""
