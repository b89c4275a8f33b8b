//! Which int8 kernel runs, and which instruction set the vector helpers use: detected at run time,
//! forced with [`KERNEL_ENV`] for a process, or with [`Kernel::helpers_on`] for one thread (tests).

/// Which kernel runs: the best this CPU has, unless [`KERNEL_ENV`] forces another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// 512-bit `vpdpbusd` (Intel Ice Lake and later servers, AMD Zen 4 and later).
    Avx512Vnni,
    /// 256-bit `vpdpbusd` (AVX-VNNI: Intel Alder Lake and later client parts, AMD Zen 5).
    AvxVnni,
    /// 256-bit `vpmaddwd` over activations and weights widened to i16: exact (see `avx2.rs`).
    Avx2,
    /// The reference every other kernel is tested equal to; any CPU.
    Portable,
}

/// The environment variable that forces a kernel (`avx512-vnni`, `avx-vnni`, `avx2` or
/// `portable`), so that
/// every path can be tested and benchmarked on one machine. A kernel the CPU lacks is refused. It
/// also holds the helpers around the products (quantization, requantization, depthwise sums) to
/// the same instruction set.
pub const KERNEL_ENV: &str = "GREENAI_INT8_KERNEL";

impl Kernel {
    /// Every kernel, fastest first.
    pub const ALL: [Kernel; 4] = [
        Kernel::Avx512Vnni,
        Kernel::AvxVnni,
        Kernel::Avx2,
        Kernel::Portable,
    ];

    /// The fastest kernel this CPU runs.
    pub fn detect() -> Kernel {
        Kernel::ALL
            .into_iter()
            .find(|k| k.available())
            .unwrap_or(Kernel::Portable)
    }

    /// Whether this CPU can run it.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => {
                std::arch::is_x86_feature_detected!("avx512vnni")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::AvxVnni => {
                std::arch::is_x86_feature_detected!("avxvnni")
                    && std::arch::is_x86_feature_detected!("avx2")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            Kernel::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Portable => "portable",
        }
    }

    /// The kernel named `name`, if this CPU runs it; else why not, in one line.
    pub fn from_name(name: &str) -> Result<Kernel, String> {
        let names: Vec<&str> = Kernel::ALL.iter().map(|k| k.name()).collect();
        let k = Kernel::ALL
            .into_iter()
            .find(|k| k.name() == name.trim())
            .ok_or_else(|| {
                format!(
                    "{KERNEL_ENV}={name:?}: the int8 kernels are {}",
                    names.join(", ")
                )
            })?;
        if !k.available() {
            return Err(format!(
                "{KERNEL_ENV}={name}: this CPU cannot run the {name} kernel (it runs {})",
                Kernel::ALL
                    .iter()
                    .filter(|k| k.available())
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(k)
    }

    /// The kernel [`KERNEL_ENV`] asks for (an error if it names none this CPU runs), else the
    /// fastest. Callers that cannot report an error use [`Kernel::active`].
    pub fn selected() -> Result<Kernel, String> {
        match std::env::var(KERNEL_ENV) {
            Ok(v) if !v.trim().is_empty() => Kernel::from_name(&v),
            _ => Ok(Kernel::detect()),
        }
    }

    /// [`Kernel::selected`], decided once per process; a bad [`KERNEL_ENV`] falls back to the
    /// fastest kernel (the command line refuses it before any model runs).
    pub fn active() -> Kernel {
        static ACTIVE: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *ACTIVE.get_or_init(|| Kernel::selected().unwrap_or_else(|_| Kernel::detect()))
    }

    /// The instruction set the vector helpers (quantizing, requantizing, depthwise sums, min and
    /// max, GELU, bf16 rounding) use on this thread: [`Kernel::active`], unless
    /// [`Kernel::helpers_on`] holds this thread to another.
    pub fn helpers() -> Kernel {
        HELPERS.with(|h| h.get()).unwrap_or_else(Kernel::active)
    }

    /// Runs `f` with this thread's vector helpers held to `self`'s instruction set, so that a
    /// test can run every path on a machine that has the fastest (each helper's result on each
    /// path is then compared with the portable one's). Panics if this CPU cannot run `self`.
    pub fn helpers_on<T>(self, f: impl FnOnce() -> T) -> T {
        assert!(self.available(), "this CPU cannot run {}", self.name());
        let before = HELPERS.with(|h| h.replace(Some(self)));
        struct Restore(Option<Kernel>);
        impl Drop for Restore {
            fn drop(&mut self) {
                HELPERS.with(|h| h.set(self.0));
            }
        }
        let _restore = Restore(before);
        f()
    }

    /// Whether the helpers may use AVX-512 (the AVX-512 kernel is theirs).
    pub(crate) fn avx512() -> bool {
        Kernel::helpers() == Kernel::Avx512Vnni
    }

    /// Whether the helpers may use AVX2.
    pub(crate) fn avx2() -> bool {
        matches!(
            Kernel::helpers(),
            Kernel::Avx512Vnni | Kernel::AvxVnni | Kernel::Avx2
        )
    }
}

thread_local! {
    static HELPERS: std::cell::Cell<Option<Kernel>> = const { std::cell::Cell::new(None) };
}
