//! One module per command: the only place that wires adapters to the pure core.
