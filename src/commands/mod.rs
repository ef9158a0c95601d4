//! One module per command: the only place that wires adapters to the pure core.

pub mod export;
