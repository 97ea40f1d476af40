package daemon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// peerUID returns the uid that owns the client end of a TCP connection on this machine,
// from the kernel's socket diagnostics (NETLINK_SOCK_DIAG, what `ss -e` shows): the
// client socket is looked up by its exact 4-tuple. posd.service hides /proc/net
// (ProcSubset=pid), and netlink needs no privilege for this.
func peerUID(client, server netip.AddrPort) (uint32, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, sockDiagProto)
	if err != nil {
		return 0, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 1}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("sock_diag timeout: %w", err)
	}
	ca, sa := client.Addr().Unmap(), server.Addr().Unmap()
	family := uint8(syscall.AF_INET)
	if ca.Is6() || sa.Is6() {
		family = syscall.AF_INET6
		ca, sa = netip.AddrFrom16(ca.As16()), netip.AddrFrom16(sa.As16())
	}
	// struct nlmsghdr (16) + struct inet_diag_req_v2 (56).
	req := make([]byte, 16+56)
	ne := binary.NativeEndian // netlink's host-order fields
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // seq
	b := req[16:]
	b[0], b[1] = family, syscall.IPPROTO_TCP
	ne.PutUint32(b[4:], 0xffffffff) // every TCP state
	id := b[8:]                     // struct inet_diag_sockid: ports and addresses big-endian
	binary.BigEndian.PutUint16(id[0:], client.Port())
	binary.BigEndian.PutUint16(id[2:], server.Port())
	copy(id[4:20], ca.AsSlice())
	copy(id[20:36], sa.AsSlice())
	ne.PutUint32(id[40:], 0xffffffff) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], 0xffffffff)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag send: %w", err)
	}
	buf := make([]byte, 8192)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("sock_diag receive: %w", err)
	}
	buf = buf[:n]
	if len(buf) < 16 {
		return 0, errors.New("sock_diag: short answer")
	}
	switch ne.Uint16(buf[4:]) {
	case syscall.NLMSG_ERROR:
		if len(buf) >= 20 {
			if errno := int32(ne.Uint32(buf[16:])); errno != 0 {
				return 0, fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
			}
		}
		return 0, errors.New("sock_diag: error answer")
	case sockDiagByFamily:
	default:
		return 0, fmt.Errorf("sock_diag: answer type %d", ne.Uint16(buf[4:]))
	}
	// struct inet_diag_msg: 4 bytes, sockid (48), expires, rqueue, wqueue, uid.
	if len(buf) < 16+68 {
		return 0, errors.New("sock_diag: short message")
	}
	return ne.Uint32(buf[16+64:]), nil
}

const (
	sockDiagProto    = 4  // NETLINK_SOCK_DIAG (NETLINK_INET_DIAG)
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
)
