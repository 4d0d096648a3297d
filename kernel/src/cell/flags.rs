//! The flags of one command line: `--name VALUE` (or `--name=VALUE`) and bare `--switch`es, each
//! checked against what the command takes, each value parsed with a sentence that names the flag.

use prunekit_core::{Error, Result};

#[derive(Debug)]
pub struct Flags<'a> {
    command: &'a str,
    values: Vec<(&'a str, Option<&'a str>)>,
    pub positional: Vec<&'a str>,
}

impl<'a> Flags<'a> {
    /// `with_value` flags take a value; `switches` do not.
    pub fn parse(
        command: &'a str,
        words: &'a [String],
        with_value: &[&str],
        switches: &[&str],
    ) -> Result<Flags<'a>> {
        let mut values = Vec::new();
        let mut positional = Vec::new();
        let mut it = words.iter();
        while let Some(word) = it.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                _ => (word.as_str(), None),
            };
            if !flag.starts_with("--") {
                positional.push(word.as_str());
            } else if with_value.contains(&flag) {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().map(String::as_str).ok_or_else(|| {
                        Error::Usage(format!("{flag} needs a value; see `help {command}`."))
                    })?,
                };
                values.push((flag, Some(value)));
            } else if switches.contains(&flag) && inline.is_none() {
                values.push((flag, None));
            } else {
                let mut known: Vec<&str> = with_value.iter().chain(switches).copied().collect();
                known.sort();
                return Err(Error::Usage(format!(
                    "{command} has no flag {flag}; it takes {}.",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        Ok(Flags {
            command,
            values,
            positional,
        })
    }

    /// The last value given for `flag`.
    pub fn get(&self, flag: &str) -> Option<&'a str> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| *f == flag)
            .and_then(|(_, v)| *v)
    }

    pub fn has(&self, flag: &str) -> bool {
        self.values.iter().any(|(f, _)| *f == flag)
    }

    /// A whole number of at least `min`.
    pub fn count(&self, flag: &str, min: usize) -> Result<Option<usize>> {
        self.get(flag)
            .map(|text| {
                text.parse::<usize>()
                    .ok()
                    .filter(|&n| n >= min)
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "{flag} {text} is not valid; give a whole number of at least {min}."
                        ))
                    })
            })
            .transpose()
    }

    /// A number in `[lo, hi]`.
    pub fn number(&self, flag: &str, lo: f64, hi: f64) -> Result<Option<f64>> {
        self.get(flag)
            .map(|text| {
                text.parse::<f64>()
                    .ok()
                    .filter(|v| (lo..=hi).contains(v))
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "{flag} {text} is not valid; give a number from {lo} to {hi}."
                        ))
                    })
            })
            .transpose()
    }

    /// A comma-separated list of numbers.
    pub fn numbers(&self, flag: &str) -> Result<Option<Vec<f64>>> {
        self.get(flag)
            .map(|text| {
                text.split(',')
                    .map(|part| {
                        part.trim().parse::<f64>().map_err(|_| {
                            Error::Usage(format!(
                                "{flag} {text}: '{part}' is not a number; give a list such as 0.5,0.9."
                            ))
                        })
                    })
                    .collect()
            })
            .transpose()
    }

    /// No positional words allowed.
    pub fn no_positional(&self) -> Result<()> {
        match self.positional.first() {
            Some(word) => Err(Error::Usage(format!(
                "unexpected '{word}'; see `help {}`.",
                self.command
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn values_switches_and_errors() {
        let w = words("--batch 4 --log --levels=0.5,0.9 extra");
        let f = Flags::parse("profile", &w, &["--batch", "--levels"], &["--log"]).unwrap();
        assert_eq!(f.count("--batch", 1).unwrap(), Some(4));
        assert!(f.has("--log"));
        assert_eq!(f.numbers("--levels").unwrap(), Some(vec![0.5, 0.9]));
        assert_eq!(f.positional, vec!["extra"]);
        let w = words("--bogus 1");
        let err = Flags::parse("profile", &w, &["--batch"], &[]).unwrap_err();
        assert!(err.to_string().contains("--bogus"), "{err}");
        let w = words("--batch 0");
        let f = Flags::parse("profile", &w, &["--batch"], &[]).unwrap();
        assert!(f.count("--batch", 1).is_err());
        let w = words("--batch");
        assert!(Flags::parse("profile", &w, &["--batch"], &[]).is_err());
    }
}
