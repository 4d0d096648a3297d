//! The connection file a client writes before launching the kernel, and the message signer it
//! configures (HMAC-SHA256 over the four JSON frames; no signing when the key is empty).

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    #[serde(default = "default_transport")]
    pub transport: String,
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
    #[serde(default)]
    pub key: String,
}

fn default_transport() -> String {
    "tcp".into()
}

fn default_scheme() -> String {
    "hmac-sha256".into()
}

impl ConnectionInfo {
    /// Reads and checks a connection file; the error is one sentence naming the file.
    pub fn read(path: &Path) -> Result<ConnectionInfo, String> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            format!(
                "the connection file {} could not be read ({err}).",
                path.display()
            )
        })?;
        let info: ConnectionInfo = serde_json::from_str(&text).map_err(|err| {
            format!(
                "the connection file {} is not valid ({err}).",
                path.display()
            )
        })?;
        if info.transport != "tcp" {
            return Err(format!(
                "the connection file {} asks for transport '{}'; prunekit supports tcp only.",
                path.display(),
                info.transport
            ));
        }
        if info.signature_scheme != "hmac-sha256" {
            return Err(format!(
                "the connection file {} asks for signature scheme '{}'; prunekit supports hmac-sha256 only.",
                path.display(),
                info.signature_scheme
            ));
        }
        Ok(info)
    }

    pub fn endpoint(&self, port: u16) -> String {
        format!("tcp://{}:{port}", self.ip)
    }

    pub fn signer(&self) -> Signer {
        Signer {
            key: (!self.key.is_empty()).then(|| self.key.as_bytes().to_vec()),
        }
    }
}

/// Signs and verifies messages. Cloned into every task that sends.
#[derive(Clone)]
pub struct Signer {
    key: Option<Vec<u8>>,
}

impl Signer {
    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// Lower-case hex HMAC of header, parent header, metadata and content; empty without a key.
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        match &self.key {
            None => String::new(),
            Some(key) => hex::encode(self.mac(key, parts).finalize().into_bytes()),
        }
    }

    /// Checks a signature in constant time.
    pub fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> bool {
        match &self.key {
            None => true,
            Some(key) => match hex::decode(signature) {
                Ok(bytes) => self.mac(key, parts).verify_slice(&bytes).is_ok(),
                Err(_) => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let signer = Signer {
            key: Some(b"secret".to_vec()),
        };
        let parts: [&[u8]; 4] = [b"{\"a\":1}", b"{}", b"{}", b"{}"];
        let sig = signer.sign(&parts);
        assert_eq!(sig.len(), 64);
        assert!(signer.verify(sig.as_bytes(), &parts));
        assert!(!signer.verify(sig.as_bytes(), &[b"{\"a\":2}", b"{}", b"{}", b"{}"]));
        assert!(!signer.verify(b"zz", &parts));
        let unsigned = Signer { key: None };
        assert_eq!(unsigned.sign(&parts), "");
        assert!(unsigned.verify(b"", &parts));
    }
}
