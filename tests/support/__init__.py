"""What the test folders share: real peers (`peers`), OS-chosen ports (`ports`), records
built and protected from key-log secrets (`records`), in-memory and socket pumping
(`pump`) and the test PKI (`pki`). Nothing here imitates a peer."""
