//! Where a forecast comes from: a file, or a URL fetched over HTTP(S) with a timeout. The bytes
//! are handed to [`greenai_carbon::forecast::parse`].

use greenai_carbon::forecast::{self, ForecastFormat};
use greenai_carbon::series::IntensitySeries;
use std::io::Read;
use std::time::Duration;

/// A forecast larger than this is no forecast.
const MAX_BYTES: u64 = 64 << 20;

/// Why a forecast could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The service or file could not be reached or read: a caller may keep its last good forecast.
    #[error("cannot fetch the forecast {location}: {reason}")]
    Unavailable { location: String, reason: String },
    /// It was read but is not a forecast.
    #[error("{0}")]
    Invalid(#[from] greenai_carbon::CarbonError),
}

/// A forecast's location and how to read it.
#[derive(Debug, Clone)]
pub struct ForecastSource {
    /// A path, or an `http://` or `https://` URL.
    pub location: String,
    /// `None`: detected from the response's shape.
    pub format: Option<ForecastFormat>,
    /// Request headers (`auth-token: …` for Electricity Maps, `Authorization: Bearer …` for
    /// WattTime).
    pub headers: Vec<(String, String)>,
    /// The whole request's limit.
    pub timeout: Duration,
}

impl ForecastSource {
    pub fn new(location: &str) -> ForecastSource {
        ForecastSource {
            location: location.to_string(),
            format: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(20),
        }
    }

    pub fn is_url(&self) -> bool {
        self.location.starts_with("http://") || self.location.starts_with("https://")
    }

    /// Reads (or fetches) and parses the forecast.
    pub fn load(&self) -> Result<IntensitySeries, FetchError> {
        let text = if self.is_url() {
            self.fetch()?
        } else {
            self.read_file()?
        };
        Ok(forecast::parse(&self.location, &text, self.format)?)
    }

    fn unavailable(&self, reason: impl ToString) -> FetchError {
        FetchError::Unavailable {
            location: self.location.clone(),
            reason: reason.to_string(),
        }
    }

    fn read_file(&self) -> Result<String, FetchError> {
        let f = std::fs::File::open(&self.location).map_err(|e| self.unavailable(e))?;
        let mut text = String::new();
        f.take(MAX_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| self.unavailable(e))?;
        if text.len() as u64 > MAX_BYTES {
            return Err(self.unavailable("larger than 64 MiB: not a forecast"));
        }
        Ok(text)
    }

    fn fetch(&self) -> Result<String, FetchError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .user_agent(concat!("greenai/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut req = agent.get(&self.location);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req.call().map_err(|e| match e {
            ureq::Error::StatusCode(code) => {
                self.unavailable(format!("the service answered HTTP {code}"))
            }
            other => self.unavailable(other),
        })?;
        resp.body_mut()
            .with_config()
            .limit(MAX_BYTES)
            .read_to_string()
            .map_err(|e| self.unavailable(e))
    }
}

/// `Name: value` as a header pair.
pub fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(format!("{s:?} is not a header: write NAME: VALUE")),
    }
}
