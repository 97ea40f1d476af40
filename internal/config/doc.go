// Package config is posd.toml: the Config struct with every default (DefaultConfig),
// parsing from a reader or a file (ParseConfig, ReadConfigFile), validation that names the
// key at fault (Problem, ConfigError), and loading the secret files the config names
// (LoadSecrets, which also resolves systemd's "credential:NAME").
//
// It reads and checks; it starts nothing. cmd/posd loads a Config and hands its sections
// to the packages that use them.
package config
