//! Object-store servers on 127.0.0.1, started by the tests and stopped when dropped: moto's
//! S3-compatible server (installed from PyPI by `scripts/python-env`) and Azurite, the Azure
//! Blob Storage emulator (installed from npm by `scripts/azurite-env`).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::{KillOnDrop, free_port, python_env, repo, run_python, wait_for_port};

/// The secret given to `exhibits` for S3: a run's output must never contain it.
pub const S3_SECRET: &str = "test-secret-never-printed";

/// Azurite's public development account key (documented by Microsoft; not a secret).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A moto server with one bucket, `exhibits`.
pub struct S3Server {
    pub child: KillOnDrop,
    pub endpoint: String,
    pub python: PathBuf,
}

impl S3Server {
    pub fn start() -> S3Server {
        let python = python_env();
        let port = free_port();
        let child = Command::new(python.with_file_name("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        wait_for_port(port, "moto_server");
        let server = S3Server { child: KillOnDrop(child), endpoint: format!("http://127.0.0.1:{port}"), python };
        let code = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket='exhibits')",
            server.endpoint
        );
        run_python(&server.python, &["-c", &code]);
        server
    }

    /// What `exhibits` needs in its environment to reach the server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Pauses (SIGSTOP) or resumes (SIGCONT) the server: unreachable, but its state is kept.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.0.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

/// Azurite with one container, `exhibits`.
pub struct Azurite {
    _child: KillOnDrop,
    pub endpoint: String,
    pub python: PathBuf,
}

impl Azurite {
    pub fn start() -> Azurite {
        let install = Command::new(repo().join("scripts/azurite-env")).output().expect("scripts/azurite-env runs");
        assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
        let azurite = String::from_utf8(install.stdout).unwrap().trim().to_string();
        let python = python_env();
        let port = free_port();
        let child = Command::new(azurite)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("azurite-blob starts");
        wait_for_port(port, "azurite-blob");
        let server = Azurite { _child: KillOnDrop(child), endpoint: format!("http://127.0.0.1:{port}"), python };
        let code = format!(
            "from azure.storage.blob import BlobServiceClient\n\
             BlobServiceClient.from_connection_string('DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
             AccountKey={AZURITE_KEY};BlobEndpoint={}/devstoreaccount1;').create_container('exhibits')",
            server.endpoint
        );
        run_python(&server.python, &["-c", &code]);
        server
    }

    /// What `exhibits` needs in its environment to reach the emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint.clone()),
            ("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1".into()),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.into()),
        ]
    }
}
