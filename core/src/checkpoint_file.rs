//! The one encoding of bipeft's checkpoints, a search's and a retrain's:
//! MessagePack with named fields of a struct whose first two fields are its
//! `format` name and `version`, checked before anything else is read.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What every checkpoint starts with.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// `value` as checkpoint bytes.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(value)
        .map_err(|e| Error::InvalidInput(format!("cannot encode the checkpoint: {e}")))
}

/// A checkpoint of `format` at `version` from `bytes`; `what` names it in
/// errors (`a bipeft search checkpoint`).
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    format: &str,
    version: u32,
    what: &str,
) -> Result<T> {
    let header: Header = rmp_serde::from_slice(bytes)
        .map_err(|e| Error::InvalidInput(format!("not {what}, or a damaged one ({e})")))?;
    if header.format != format || header.version != version {
        return Err(Error::InvalidInput(format!(
            "checkpoint format `{}` version {} is not `{format}` version {version}: not {what} \
             of this bipeft (start the run over)",
            header.format, header.version
        )));
    }
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::InvalidInput(format!("{what} is damaged ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Saved {
        format: String,
        version: u32,
        bytes: Vec<u8>,
    }

    #[test]
    fn round_trips_and_names_what_it_refuses() {
        let saved = Saved {
            format: "x".into(),
            version: 2,
            bytes: vec![1, 200],
        };
        let bytes = encode(&saved).unwrap();
        assert_eq!(decode::<Saved>(&bytes, "x", 2, "an x").unwrap(), saved);
        let e = decode::<Saved>(&bytes, "x", 3, "an x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2 is not `x` version 3"), "{e}");
        let e = decode::<Saved>(b"{}", "x", 2, "an x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an x"), "{e}");
        let e = decode::<Saved>(&bytes[..bytes.len() - 1], "x", 2, "an x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("damaged"), "{e}");
    }
}
