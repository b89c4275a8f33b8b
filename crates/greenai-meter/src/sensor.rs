use crate::component::{Component, Reading};
use crate::error::Result;
use std::collections::HashSet;

/// A source of energy readings for a fixed set of components.
///
/// Implementations read one interface (`powercap`, `hwmon`, `nvml`, or a model) and undo counter
/// wraparound themselves, so [`Reading::energy`] only ever grows.
pub trait EnergySensor: Send {
    /// The interface's short name: `powercap`, `hwmon`, `nvml`, `estimate`.
    fn interface(&self) -> &'static str;
    /// The components this sensor reports, fixed when it was opened.
    fn components(&self) -> &[Component];
    /// One reading per component, in the order of [`EnergySensor::components`].
    fn read(&mut self) -> Result<Vec<Reading>>;
    /// A reading at a window's edge, where energy must be exact. Sensors that take shortcuts on
    /// ordinary ticks (the model reads `/proc/stat` only now and then) read everything here.
    fn read_edge(&mut self) -> Result<Vec<Reading>> {
        self.read()
    }
    /// For each component, the most power its domain can draw where the interface says so
    /// (RAPL's constraint maxima): the ceiling above which a reading is a fault
    /// ([`crate::faults`]). `None`: a generous bound for the component's kind.
    fn ceilings(&self) -> Vec<Option<greenai_units::Power>> {
        vec![None; self.components().len()]
    }
    /// For each component, the share (0..=1) of its activity due to processes in `pids`, where the
    /// interface can tell (NVML per-process utilisation). `None` means it cannot.
    fn process_share(&mut self, _pids: &HashSet<u32>) -> Vec<Option<f64>> {
        vec![None; self.components().len()]
    }
}
