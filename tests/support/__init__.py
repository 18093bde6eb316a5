"""What the test folders share: real peers (`peers`), OS-chosen ports (`ports`), records
built and protected from key-log secrets (`records`), in-memory and socket pumping
(`pump`), the test PKI (`pki`) and the Go programs built from source (`golang`).
Nothing here imitates a peer."""
