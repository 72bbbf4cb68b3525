"""The safety-signal core: signal kinds, trigger rules and state machines, with no I/O."""
