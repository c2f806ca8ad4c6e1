package health

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate())
	assert.Equal(t, Config{Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3}, cfg)
	assert.Equal(t, cfg, Config{}.WithDefaults())
	custom := Config{Interval: 10 * time.Second, StartPeriod: time.Minute}.WithDefaults()
	assert.Equal(t, Config{Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: time.Minute}, custom)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := DefaultConfig()
	with := func(f func(*Config)) Config {
		c := valid
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		cfg    Config
		fields []string // fields reported, in order; nil means valid
		msg    string   // substring of the error message
	}{
		{"defaults", valid, nil, ""},
		{"lowest", Config{Interval: 5 * time.Second, Timeout: 2 * time.Second, Retries: 1}, nil, ""},
		{"highest", Config{Interval: 300 * time.Second, Timeout: 60 * time.Second, Retries: 10, StartPeriod: 300 * time.Second}, nil, ""},
		{"interval too short", with(func(c *Config) { c.Interval = 4 * time.Second }), []string{"interval"}, "interval 4s out of range [5s, 5m0s]"},
		{"interval too long", with(func(c *Config) { c.Interval = 301 * time.Second }), []string{"interval"}, "interval 5m1s"},
		{"timeout too short", with(func(c *Config) { c.Timeout = time.Second }), []string{"timeout"}, "timeout 1s out of range [2s, 1m0s]"},
		{"timeout too long", with(func(c *Config) { c.Timeout = 61 * time.Second }), []string{"timeout"}, "timeout 1m1s"},
		{"retries zero", with(func(c *Config) { c.Retries = 0 }), []string{"retries"}, "retries 0 out of range [1, 10]"},
		{"retries eleven", with(func(c *Config) { c.Retries = 11 }), []string{"retries"}, "retries 11"},
		{"negative start period", with(func(c *Config) { c.StartPeriod = -time.Second }), []string{"startPeriod"}, "startPeriod -1s out of range [0s, 5m0s]"},
		{"start period too long", with(func(c *Config) { c.StartPeriod = 301 * time.Second }), []string{"startPeriod"}, "startPeriod 5m1s"},
		{"zero config", Config{}, []string{"interval", "timeout", "retries"}, "interval 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.msg)

			var rangeErr *RangeError
			require.ErrorAs(t, err, &rangeErr)
			assert.Equal(t, tt.fields[0], rangeErr.Field)

			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var re *RangeError
				require.True(t, errors.As(e, &re))
				got = append(got, re.Field)
			}
			assert.Equal(t, tt.fields, got)
		})
	}
}
