"""The relay benchmark (`make bench`, `python -m bench`): a paced C blaster sends Avro records
over loopback to each receiver in turn — a bare recvmmsg sink (the floor), a minimal copy
relay, socat writing a file (its defaults, and the relay's receive buffer) and the real relay
with all its outputs — and finds the highest rate each one takes without losing a datagram.
Results go to docs/benchmarks.md."""
