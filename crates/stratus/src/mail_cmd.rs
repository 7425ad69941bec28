//! `stratus mail list|show|test|deliveries|sms-opt-out`: the local mailbox (emails land
//! there when the server has no SMTP relay) read straight from the data
//! directory, and the admin API's test notification and outbox listing.

use crate::client;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use stratus_server::notify::Mailbox;

#[derive(Args)]
pub struct MailArgs {
    #[command(subcommand)]
    command: MailCommand,
}

#[derive(Args)]
struct DataDirArg {
    /// The server's data directory (the mailbox is <data-dir>/mailbox).
    #[arg(long, default_value = "./stratus-data", env = "STRATUS_DATA_DIR")]
    data_dir: PathBuf,
}

impl DataDirArg {
    /// The mailbox, once the data directory is known to exist: a missing one
    /// (run outside the directory `stratus up` was started in) is not an empty mailbox.
    fn mailbox(&self) -> anyhow::Result<Mailbox> {
        if !self.data_dir.is_dir() {
            anyhow::bail!(
                "no data directory at {}: pass the server's with --data-dir (or STRATUS_DATA_DIR), \
                 e.g. ./stratus-data where `stratus up` ran, /var/lib/stratus for the packaged server",
                self.data_dir.display()
            );
        }
        Ok(Mailbox::in_data_dir(&self.data_dir))
    }
}

#[derive(Subcommand)]
enum MailCommand {
    /// List the local mailbox, newest first.
    List {
        #[command(flatten)]
        dir: DataDirArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print one message of the local mailbox (ID or a unique prefix of it).
    Show {
        id: String,
        #[command(flatten)]
        dir: DataDirArg,
        /// Print the stored RFC 5322 message as is.
        #[arg(long)]
        raw: bool,
    },
    /// Send a test notification to an email address or a webhook URL through
    /// the running server (its relay, or its local mailbox).
    Test {
        /// Email address to send to.
        #[arg(long, conflicts_with = "url", required_unless_present = "url")]
        to: Option<String>,
        /// http:// or https:// URL to POST to.
        #[arg(long)]
        url: Option<String>,
        /// Retries after the first attempt (default: the protocol's policy).
        #[arg(long)]
        num_retries: Option<u32>,
        /// Shortest delay between attempts, seconds.
        #[arg(long)]
        min_delay: Option<u32>,
        /// Longest delay between attempts, seconds.
        #[arg(long)]
        max_delay: Option<u32>,
        /// linear, arithmetic, geometric or exponential.
        #[arg(long)]
        backoff: Option<String>,
        #[command(flatten)]
        conn: client::AdminConn,
    },
    /// Opt a phone number out of SMS, as a STOP reply does on AWS: SMS to it are
    /// then recorded as not delivered until OptInPhoneNumber.
    SmsOptOut {
        /// E.164 number, e.g. +15550100.
        phone_number: String,
        #[command(flatten)]
        conn: client::AdminConn,
    },
    /// List the server's recent deliveries (pending, delivered, given up).
    Deliveries {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: client::AdminConn,
    },
}

fn format_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

pub fn run(args: MailArgs) -> anyhow::Result<()> {
    match args.command {
        MailCommand::List { dir, json } => {
            let mailbox = dir.mailbox()?;
            let all = mailbox.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            if all.is_empty() {
                eprintln!("The mailbox {} is empty.", mailbox.dir().display());
                return Ok(());
            }
            println!("{:<20} {:<23} {:<32} SUBJECT", "ID", "DATE", "TO");
            for m in all {
                println!(
                    "{:<20} {:<23} {:<32} {}",
                    m.id,
                    format_ms(m.date_ms),
                    m.to,
                    m.subject
                );
            }
        }
        MailCommand::Show { id, dir, raw } => {
            let m = dir.mailbox()?.get(&id)?;
            if raw {
                print!("{}", m.raw);
                return Ok(());
            }
            println!("Id:         {}", m.summary.id);
            println!("Date:       {}", format_ms(m.summary.date_ms));
            println!("From:       {}", m.summary.from);
            println!("To:         {}", m.summary.to);
            println!("Subject:    {}", m.summary.subject);
            println!("Message-ID: {}", m.message_id);
            println!();
            print!("{}", m.text);
            if !m.text.ends_with('\n') {
                println!();
            }
        }
        MailCommand::Test {
            to,
            url,
            num_retries,
            min_delay,
            max_delay,
            backoff,
            conn,
        } => {
            let (protocol, endpoint) = match (to, url) {
                (Some(to), _) => ("email", to),
                (None, Some(url)) if url.starts_with("https://") => ("https", url),
                (None, Some(url)) => ("http", url),
                (None, None) => anyhow::bail!("give --to ADDRESS or --url URL"),
            };
            let mut body = json!({"Protocol": protocol, "Endpoint": endpoint});
            for (k, v) in [
                ("NumRetries", num_retries),
                ("MinDelaySeconds", min_delay),
                ("MaxDelaySeconds", max_delay),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if let Some(b) = backoff {
                body["BackoffFunction"] = json!(b);
            }
            let v = conn.call("SendTestNotification", &body)?;
            let id = v["MessageId"].as_str().unwrap_or("");
            println!("{id}");
            eprintln!(
                "Queued test notification {id} to {endpoint}; `stratus mail deliveries` shows its progress."
            );
        }
        MailCommand::SmsOptOut { phone_number, conn } => {
            let v = conn.call("OptOutPhoneNumber", &json!({ "PhoneNumber": phone_number }))?;
            eprintln!(
                "{} opted out of SMS; OptInPhoneNumber opts it back in.",
                v["PhoneNumber"].as_str().unwrap_or(&phone_number)
            );
        }
        MailCommand::Deliveries { json, conn } => {
            let v = conn.call("ListDeliveries", &json!({}))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "{:<36} {:<9} {:>8} {:<40} LAST ERROR",
                "MESSAGE ID", "STATUS", "ATTEMPTS", "ENDPOINT"
            );
            for d in v["Deliveries"].as_array().into_iter().flatten() {
                println!(
                    "{:<36} {:<9} {:>8} {:<40} {}",
                    d["MessageId"].as_str().unwrap_or(""),
                    d["Status"].as_str().unwrap_or(""),
                    d["Attempts"].as_u64().unwrap_or(0),
                    d["Endpoint"].as_str().unwrap_or(""),
                    d["LastError"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
