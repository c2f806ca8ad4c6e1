package task

import (
	"encoding/json"
	"slices"
)

// The JSON methods of the definition types. Each UnmarshalJSON matches
// member names exactly and keeps unknown members in Extra; each MarshalJSON
// writes them back. See jsonobject.go.

// MarshalJSON encodes td with the members kept in its Extra field. When
// Extra holds a member that would make ParseDefinition read the document
// as another form (taskDefinition, Type, or a PascalCase Family,
// ContainerDefinitions or TaskDefinition), "family" is written even when
// empty, which marks the document as a bare definition.
func (td TaskDefinition) MarshalJSON() ([]byte, error) {
	type plain TaskDefinition
	b, err := marshalObject(plain(td), td.Extra)
	if err != nil || td.Family != "" || !selectsAnotherForm(td.Extra) {
		return b, err
	}
	if len(b) == 2 { // "{}"
		return []byte(`{"family":""}`), nil
	}
	return slices.Concat([]byte(`{"family":"",`), b[1:]), nil
}

// selectsAnotherForm reports whether a bare definition's unknown members
// would make ParseDefinition read it as describe output, a CloudFormation
// resource or PascalCase if it had no "family" member.
func selectsAnotherForm(extra map[string]json.RawMessage) bool {
	for _, k := range []string{"taskDefinition", "Type", "Family", "ContainerDefinitions", "TaskDefinition"} {
		if _, ok := extra[k]; ok {
			return true
		}
	}
	return false
}

// UnmarshalJSON decodes td, keeping unknown members in its Extra field.
func (td *TaskDefinition) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, td)
}

// MarshalJSON encodes c with the members kept in its Extra field.
func (c ContainerDefinition) MarshalJSON() ([]byte, error) {
	type plain ContainerDefinition
	return marshalObject(plain(c), c.Extra)
}

// UnmarshalJSON decodes c, keeping unknown members in its Extra field.
func (c *ContainerDefinition) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, c)
}

// MarshalJSON encodes r with the members kept in its Extra field.
func (r RepositoryCredentials) MarshalJSON() ([]byte, error) {
	type plain RepositoryCredentials
	return marshalObject(plain(r), r.Extra)
}

// UnmarshalJSON decodes r, keeping unknown members in its Extra field.
func (r *RepositoryCredentials) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, r)
}

// MarshalJSON encodes pm with the members kept in its Extra field.
func (pm PortMapping) MarshalJSON() ([]byte, error) {
	type plain PortMapping
	return marshalObject(plain(pm), pm.Extra)
}

// UnmarshalJSON decodes pm, keeping unknown members in its Extra field.
func (pm *PortMapping) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, pm)
}

// MarshalJSON encodes k with the members kept in its Extra field.
func (k KeyValuePair) MarshalJSON() ([]byte, error) {
	type plain KeyValuePair
	return marshalObject(plain(k), k.Extra)
}

// UnmarshalJSON decodes k, keeping unknown members in its Extra field.
func (k *KeyValuePair) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, k)
}

// MarshalJSON encodes e with the members kept in its Extra field.
func (e EnvironmentFile) MarshalJSON() ([]byte, error) {
	type plain EnvironmentFile
	return marshalObject(plain(e), e.Extra)
}

// UnmarshalJSON decodes e, keeping unknown members in its Extra field.
func (e *EnvironmentFile) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, e)
}

// MarshalJSON encodes m with the members kept in its Extra field.
func (m MountPoint) MarshalJSON() ([]byte, error) {
	type plain MountPoint
	return marshalObject(plain(m), m.Extra)
}

// UnmarshalJSON decodes m, keeping unknown members in its Extra field.
func (m *MountPoint) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, m)
}

// MarshalJSON encodes v with the members kept in its Extra field.
func (v VolumeFrom) MarshalJSON() ([]byte, error) {
	type plain VolumeFrom
	return marshalObject(plain(v), v.Extra)
}

// UnmarshalJSON decodes v, keeping unknown members in its Extra field.
func (v *VolumeFrom) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, v)
}

// MarshalJSON encodes l with the members kept in its Extra field.
func (l LinuxParameters) MarshalJSON() ([]byte, error) {
	type plain LinuxParameters
	return marshalObject(plain(l), l.Extra)
}

// UnmarshalJSON decodes l, keeping unknown members in its Extra field.
func (l *LinuxParameters) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, l)
}

// MarshalJSON encodes k with the members kept in its Extra field.
func (k KernelCapabilities) MarshalJSON() ([]byte, error) {
	type plain KernelCapabilities
	return marshalObject(plain(k), k.Extra)
}

// UnmarshalJSON decodes k, keeping unknown members in its Extra field.
func (k *KernelCapabilities) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, k)
}

// MarshalJSON encodes d with the members kept in its Extra field.
func (d Device) MarshalJSON() ([]byte, error) {
	type plain Device
	return marshalObject(plain(d), d.Extra)
}

// UnmarshalJSON decodes d, keeping unknown members in its Extra field.
func (d *Device) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, d)
}

// MarshalJSON encodes t with the members kept in its Extra field.
func (t Tmpfs) MarshalJSON() ([]byte, error) {
	type plain Tmpfs
	return marshalObject(plain(t), t.Extra)
}

// UnmarshalJSON decodes t, keeping unknown members in its Extra field.
func (t *Tmpfs) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, t)
}

// MarshalJSON encodes s with the members kept in its Extra field.
func (s Secret) MarshalJSON() ([]byte, error) {
	type plain Secret
	return marshalObject(plain(s), s.Extra)
}

// UnmarshalJSON decodes s, keeping unknown members in its Extra field.
func (s *Secret) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, s)
}

// MarshalJSON encodes c with the members kept in its Extra field.
func (c ContainerDependency) MarshalJSON() ([]byte, error) {
	type plain ContainerDependency
	return marshalObject(plain(c), c.Extra)
}

// UnmarshalJSON decodes c, keeping unknown members in its Extra field.
func (c *ContainerDependency) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, c)
}

// MarshalJSON encodes h with the members kept in its Extra field.
func (h HostEntry) MarshalJSON() ([]byte, error) {
	type plain HostEntry
	return marshalObject(plain(h), h.Extra)
}

// UnmarshalJSON decodes h, keeping unknown members in its Extra field.
func (h *HostEntry) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, h)
}

// MarshalJSON encodes u with the members kept in its Extra field.
func (u Ulimit) MarshalJSON() ([]byte, error) {
	type plain Ulimit
	return marshalObject(plain(u), u.Extra)
}

// UnmarshalJSON decodes u, keeping unknown members in its Extra field.
func (u *Ulimit) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, u)
}

// MarshalJSON encodes l with the members kept in its Extra field.
func (l LogConfiguration) MarshalJSON() ([]byte, error) {
	type plain LogConfiguration
	return marshalObject(plain(l), l.Extra)
}

// UnmarshalJSON decodes l, keeping unknown members in its Extra field.
func (l *LogConfiguration) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, l)
}

// MarshalJSON encodes hc with the members kept in its Extra field.
func (hc HealthCheck) MarshalJSON() ([]byte, error) {
	type plain HealthCheck
	return marshalObject(plain(hc), hc.Extra)
}

// UnmarshalJSON decodes hc, keeping unknown members in its Extra field.
func (hc *HealthCheck) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, hc)
}

// MarshalJSON encodes s with the members kept in its Extra field.
func (s SystemControl) MarshalJSON() ([]byte, error) {
	type plain SystemControl
	return marshalObject(plain(s), s.Extra)
}

// UnmarshalJSON decodes s, keeping unknown members in its Extra field.
func (s *SystemControl) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, s)
}

// MarshalJSON encodes r with the members kept in its Extra field.
func (r ResourceRequirement) MarshalJSON() ([]byte, error) {
	type plain ResourceRequirement
	return marshalObject(plain(r), r.Extra)
}

// UnmarshalJSON decodes r, keeping unknown members in its Extra field.
func (r *ResourceRequirement) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, r)
}

// MarshalJSON encodes f with the members kept in its Extra field.
func (f FirelensConfiguration) MarshalJSON() ([]byte, error) {
	type plain FirelensConfiguration
	return marshalObject(plain(f), f.Extra)
}

// UnmarshalJSON decodes f, keeping unknown members in its Extra field.
func (f *FirelensConfiguration) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, f)
}

// MarshalJSON encodes v with the members kept in its Extra field.
func (v Volume) MarshalJSON() ([]byte, error) {
	type plain Volume
	return marshalObject(plain(v), v.Extra)
}

// UnmarshalJSON decodes v, keeping unknown members in its Extra field.
func (v *Volume) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, v)
}

// MarshalJSON encodes h with the members kept in its Extra field.
func (h HostVolumeProperties) MarshalJSON() ([]byte, error) {
	type plain HostVolumeProperties
	return marshalObject(plain(h), h.Extra)
}

// UnmarshalJSON decodes h, keeping unknown members in its Extra field.
func (h *HostVolumeProperties) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, h)
}

// MarshalJSON encodes d with the members kept in its Extra field.
func (d DockerVolumeConfiguration) MarshalJSON() ([]byte, error) {
	type plain DockerVolumeConfiguration
	return marshalObject(plain(d), d.Extra)
}

// UnmarshalJSON decodes d, keeping unknown members in its Extra field.
func (d *DockerVolumeConfiguration) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, d)
}

// MarshalJSON encodes p with the members kept in its Extra field.
func (p PlacementConstraint) MarshalJSON() ([]byte, error) {
	type plain PlacementConstraint
	return marshalObject(plain(p), p.Extra)
}

// UnmarshalJSON decodes p, keeping unknown members in its Extra field.
func (p *PlacementConstraint) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, p)
}

// MarshalJSON encodes t with the members kept in its Extra field.
func (t Tag) MarshalJSON() ([]byte, error) {
	type plain Tag
	return marshalObject(plain(t), t.Extra)
}

// UnmarshalJSON decodes t, keeping unknown members in its Extra field.
func (t *Tag) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, t)
}

// MarshalJSON encodes r with the members kept in its Extra field.
func (r RuntimePlatform) MarshalJSON() ([]byte, error) {
	type plain RuntimePlatform
	return marshalObject(plain(r), r.Extra)
}

// UnmarshalJSON decodes r, keeping unknown members in its Extra field.
func (r *RuntimePlatform) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, r)
}

// MarshalJSON encodes a with the members kept in its Extra field.
func (a Attribute) MarshalJSON() ([]byte, error) {
	type plain Attribute
	return marshalObject(plain(a), a.Extra)
}

// UnmarshalJSON decodes a, keeping unknown members in its Extra field.
func (a *Attribute) UnmarshalJSON(data []byte) error {
	return decodeObjectJSON(data, a)
}
