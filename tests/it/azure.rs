//! Publishing to `az://` through object_store, against Azurite (the Azure Blob Storage emulator,
//! installed from npm by `scripts/azurite-env`) started on 127.0.0.1 by the test itself, and
//! read back with the Azure SDK for Python.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::{KillOnDrop, demo_project, exhibits_env, free_port, python_env, repo, run_python, wait_for_port};

/// Azurite's public development account key (documented by Microsoft; not a secret).
const DEV_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct Azurite {
    _child: KillOnDrop,
    endpoint: String,
    python: PathBuf,
}

impl Azurite {
    fn start() -> Azurite {
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
        Azurite { _child: KillOnDrop(child), endpoint: format!("http://127.0.0.1:{port}"), python }
    }

    /// Python code with `svc`, a BlobServiceClient of the emulator, defined first.
    fn python(&self, code: &str) -> String {
        let prelude = format!(
            "import hashlib, json\nfrom azure.storage.blob import BlobServiceClient\n\
             svc = BlobServiceClient.from_connection_string('DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
             AccountKey={DEV_KEY};BlobEndpoint={}/devstoreaccount1;')\n",
            self.endpoint
        );
        run_python(&self.python, &["-c", &(prelude + code)])
    }
}

#[test]
fn publishes_to_azure_blob_storage_and_the_sdk_reads_it_back() {
    let server = Azurite::start();
    server.python("svc.create_container('exhibits')");
    let dir = tempfile::tempdir().unwrap();
    demo_project(dir.path());
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", server.endpoint.as_str()),
        ("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1"),
        ("AZURE_STORAGE_ACCOUNT_KEY", DEV_KEY),
    ];
    let run = |as_of: &str| {
        let o = exhibits_env(
            dir.path(),
            &["run", "--pipeline", "nightly.toml", "--as-of", as_of, "--publish", "az://exhibits/nightly"],
            &env,
        );
        assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
        assert!(!o.stdout.contains(DEV_KEY) && !o.stderr.contains(DEV_KEY), "the key is never printed");
        o
    };
    let read_back = || -> serde_json::Value {
        let out = server.python(
            "c = svc.get_container_client('exhibits')\n\
             names = sorted(b.name for b in c.list_blobs(name_starts_with='nightly/'))\n\
             latest = json.loads(c.download_blob('nightly/latest.json').readall())\n\
             manifest = json.loads(c.download_blob('nightly/' + latest['manifest']).readall())\n\
             ok = all(hashlib.sha256(c.download_blob('nightly/' + d['files'][0]).readall()).hexdigest() == d['sha256'] for d in manifest['datasets'])\n\
             print(json.dumps({'names': names, 'latest': latest['as_of'], 'datasets': len(manifest['datasets']), 'sha_ok': ok}))",
        );
        serde_json::from_str(&out).unwrap()
    };
    run("2024-12-31");
    let first = read_back();
    assert_eq!((first["latest"].as_str(), first["sha_ok"].as_bool()), (Some("2024-12-31"), Some(true)), "{first}");
    assert!(first["datasets"].as_u64().unwrap() >= 9);

    // Re-publish: the same objects (content-named files), latest updated conditionally.
    run("2024-12-31");
    assert_eq!(read_back()["names"], first["names"]);
    // Backfill: its partitions appear, latest keeps the later date.
    let o = run("2024-12-30");
    assert_eq!(o.summary["latest_advanced"], false);
    let after = read_back();
    assert_eq!(after["latest"], "2024-12-31");
    assert!(after["names"].as_array().unwrap().iter().any(|n| n == "nightly/manifests/as_of=2024-12-30.json"));
}
