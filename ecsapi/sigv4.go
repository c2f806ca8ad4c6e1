package ecsapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// MaxClockSkew is how far a request's X-Amz-Date may be from the Handler's
// clock, as AWS allows.
const MaxClockSkew = 15 * time.Minute

// signingService is the service name of ECS's credential scope.
const signingService = "ecs"

// Credentials are an access key the Handler accepts. SessionToken, when
// set, must be sent with the request (X-Amz-Security-Token), as temporary
// credentials are.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKey     string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
}

func parseAuthorization(h string) (authorization, *Error) {
	const algorithm = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, algorithm) {
		return authorization{}, errIncompleteSig("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
	}
	var a authorization
	for part := range strings.SplitSeq(strings.TrimPrefix(h, algorithm), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, errIncompleteSig("Authorization header is malformed.")
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return authorization{}, errIncompleteSig("Credential must be AccessKey/date/region/service/aws4_request.")
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return authorization{}, errIncompleteSig("Authorization header requires Credential, SignedHeaders and Signature.")
	}
	return a, nil
}

// verify checks r's SigV4 signature over body: the signature is computed
// again by aws-sdk-go-v2's signer, from the headers the client signed, the
// key's secret and the request's own date, and compared in constant time.
func (h *Handler) verify(ctx context.Context, r *http.Request, body []byte) *Error {
	header := r.Header.Get("Authorization")
	if header == "" {
		return errMissingAuth
	}
	auth, aerr := parseAuthorization(header)
	if aerr != nil {
		return aerr
	}
	creds, ok := h.credentials[auth.accessKey]
	if !ok {
		return errUnknownKey
	}
	if auth.service != signingService || (h.region != "" && auth.region != h.region) {
		return errSignature
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(creds.SessionToken)) != 1 {
		return errUnknownKey
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errIncompleteSig("X-Amz-Date is missing or malformed.")
	}
	if d := h.now().Sub(when); d > MaxClockSkew || d < -MaxClockSkew {
		return errStale
	}
	if when.Format("20060102") != auth.date {
		return errSignature
	}

	// The request as the client signed it: only the headers it signed.
	signed := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	hasHost := false
	for _, name := range auth.signedHeaders {
		switch name {
		case "host":
			hasHost = true
		case "content-length":
			signed.ContentLength = int64(len(body))
		default:
			signed.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	if !hasHost {
		return errSignature
	}
	sum := sha256.Sum256(body)
	err = h.signer.SignHTTP(ctx, aws.Credentials{
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
	}, signed, hex.EncodeToString(sum[:]), auth.service, auth.region, when)
	if err != nil {
		return errSignature
	}
	want, perr := parseAuthorization(signed.Header.Get("Authorization"))
	if perr != nil || strings.Join(want.signedHeaders, ";") != strings.Join(auth.signedHeaders, ";") ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(auth.signature)) != 1 {
		return errSignature
	}
	return nil
}
