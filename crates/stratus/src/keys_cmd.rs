//! `stratus keys create|list|delete`: access-key administration through the
//! running server's admin API.

use crate::client::{self, Credentials};
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    #[command(flatten)]
    conn: client::AdminConn,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an access key. Its secret is printed once.
    Create {
        /// A name for the key (e.g. the host that will use it).
        #[arg(long)]
        name: String,
        /// Policy: `agent` (PutMetricData only), `readonly`, or `admin`.
        #[arg(long, default_value = "agent")]
        policy: String,
    },
    /// List access keys (never their secrets).
    List,
    /// Delete an access key.
    Delete {
        /// The access key id.
        access_key_id: String,
    },
}

pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    let (op, body) = match &args.command {
        KeysCommand::Create { name, policy } => {
            ("CreateKey", json!({"Name": name, "Policy": policy}))
        }
        KeysCommand::List => ("ListKeys", json!({})),
        KeysCommand::Delete { access_key_id } => {
            ("DeleteKey", json!({"AccessKeyId": access_key_id}))
        }
    };
    let v = args.conn.call(op, &body)?;
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match args.command {
        KeysCommand::Create { .. } => {
            println!(
                "access_key_id = {}",
                v["AccessKeyId"].as_str().unwrap_or("")
            );
            println!(
                "secret_access_key = {}",
                v["SecretAccessKey"].as_str().unwrap_or("")
            );
            println!("policy = {}", v["Policy"].as_str().unwrap_or(""));
            eprintln!("The secret is shown only now; store it where the agent can read it.");
        }
        KeysCommand::List => {
            println!(
                "{:<24} {:<10} {:<28} NAME",
                "ACCESS KEY ID", "POLICY", "CREATED"
            );
            for k in v["Keys"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:<10} {:<28} {}",
                    k["AccessKeyId"].as_str().unwrap_or(""),
                    k["Policy"].as_str().unwrap_or(""),
                    k["Created"].as_str().unwrap_or(""),
                    k["Name"].as_str().unwrap_or("")
                );
            }
        }
        KeysCommand::Delete { access_key_id } => println!("deleted {access_key_id}"),
    }
    Ok(())
}

pub(crate) fn call(
    endpoint: &str,
    op: &str,
    body: &Value,
    creds: &Credentials,
) -> anyhow::Result<Value> {
    let target = format!("StratusAdmin.{op}");
    let (status, text) = client::post_json(endpoint, &target, body, creds, "us-east-1")?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if status != 200 {
        let code = v["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
            .unwrap_or_else(|| status.to_string());
        let msg = v["message"].as_str().unwrap_or(&text);
        bail!("{op} failed ({code}): {msg}");
    }
    Ok(v)
}
