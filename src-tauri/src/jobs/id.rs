//! Job ids: uuid v4, the original system's "sequence key". An id from outside (the window, the
//! command line) is parsed as a uuid before it names a folder, so it can never reach a path
//! outside the jobs folder.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(Uuid);

impl JobId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("\"{0}\" is not a job id (job ids look like 0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10)")]
pub struct InvalidJobId(pub String);

impl FromStr for JobId {
    type Err = InvalidJobId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Only the canonical hyphenated form: no braces, URNs or other spellings of the same id,
        // so one job has exactly one folder name.
        let uuid = Uuid::try_parse(text).map_err(|_| InvalidJobId(text.to_string()))?;
        if uuid.hyphenated().to_string() != text.to_ascii_lowercase() || text.len() != 36 {
            return Err(InvalidJobId(text.to_string()));
        }
        Ok(Self(uuid))
    }
}

impl TryFrom<String> for JobId {
    type Error = InvalidJobId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.to_string()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_round_trip() {
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
        assert_eq!(id.to_string().len(), 36);
    }

    #[test]
    fn anything_but_a_canonical_uuid_is_rejected() {
        for bad in [
            "",
            "..",
            "../../etc",
            "0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10/../x",
            "{0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10}",
            "0b6f4e3a4c1d4f7e9a552d8c1e6b7f10",
            "urn:uuid:0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f10",
            "0b6f4e3a-4c1d-4f7e-9a55-2d8c1e6b7f1",
        ] {
            let err = bad.parse::<JobId>().unwrap_err();
            assert!(err.to_string().contains("not a job id"), "{bad}");
        }
        assert!("0B6F4E3A-4C1D-4F7E-9A55-2D8C1E6B7F10"
            .parse::<JobId>()
            .is_ok());
    }
}
