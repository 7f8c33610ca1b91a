// Package systemdunits holds no code: its tests check the systemd units of
// contrib/systemd (what they must keep saying, and that `make install`
// puts them where systemd looks, pointing at the installed binary).
package systemdunits
