package network

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"awsvpc", ModeAWSVPC, false},
		{" Bridge ", ModeBridge, false},
		{"HOST", ModeHost, false},
		{"none", ModeNone, false},
		{"", DefaultMode, false},
		{"nat", "", true},
		{"vpc", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMode(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestModeProperties(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode                Mode
		namespace, hasIface bool
	}{
		{ModeAWSVPC, true, true},
		{ModeBridge, true, true},
		{ModeHost, false, false},
		{ModeNone, true, false},
		{Mode("x"), false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.namespace, tt.mode.HasNamespace())
			assert.Equal(t, tt.hasIface, tt.mode.HasInterface())
		})
	}
}

func TestModeJSON(t *testing.T) {
	t.Parallel()
	var v struct{ M Mode }
	require.NoError(t, json.Unmarshal([]byte(`{"M":"AWSVPC"}`), &v))
	assert.Equal(t, ModeAWSVPC, v.M)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"M":"awsvpc"}`, string(b))
	require.ErrorIs(t, json.Unmarshal([]byte(`{"M":"bogus"}`), &v), ErrInvalid)
	_, err = json.Marshal(struct{ M Mode }{"bogus"})
	require.Error(t, err)
}

func TestParseProtocol(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Protocol{"tcp": ProtocolTCP, "UDP": ProtocolUDP, "icmp": ProtocolICMP, "all": ProtocolAll, "-1": ProtocolAll} {
		got, err := ParseProtocol(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseProtocol("sctp")
	require.ErrorIs(t, err, ErrInvalid)
}
