"""The VM backend: guests under QEMU (``qemu``: the driver), each in a machine folder it is adopted
from (``machine``), its process and command line (``process``, ``cmdline``), driven over QMP
(``qmp``), its consoles and statistics (``console``, ``stats``); boot artifacts built locally
(``artifacts``: kernel, initramfs, root disks from catalogue images), disk images (``images``:
qemu-img), the accelerator probe (``accel``), the VPC port containers (``network``) and the driver
that routes each instance to its engine (``routed``)."""
