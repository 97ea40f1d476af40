package printer

// ESC/POS command bytes (hardware.md §5). Kept as byte slices so tests can compare the
// exact sequences a printer receives.
var (
	cmdInit          = []byte{0x1B, 0x40}       // ESC @
	cmdChineseOn     = []byte{0x1C, 0x26}       // FS &: two-byte (GB/Big5) characters
	cmdChineseOff    = []byte{0x1C, 0x2E}       // FS .: single-byte code page
	cmdCodePage437   = []byte{0x1B, 0x74, 0x00} // ESC t 0
	cmdAlignLeft     = []byte{0x1B, 0x61, 0x00} // ESC a 0
	cmdAlignCenter   = []byte{0x1B, 0x61, 0x01}
	cmdBoldOn        = []byte{0x1B, 0x45, 0x01} // ESC E 1
	cmdBoldOff       = []byte{0x1B, 0x45, 0x00}
	cmdSizeNormal    = []byte{0x1D, 0x21, 0x00}             // GS ! 0
	cmdSizeDoubleH   = []byte{0x1D, 0x21, 0x01}             // double height
	cmdCutPartial    = []byte{0x1D, 0x56, 0x42, 0x00}       // GS V 66 0: feed to cut position, partial cut
	cmdDrawerKickPin = []byte{0x1B, 0x70, 0x00, 0x32, 0x32} // ESC p 0 50 50: pin 2, 100 ms
)

// DLE EOT n: real-time status (hardware.md §5.5).
func cmdStatus(n byte) []byte { return []byte{0x10, 0x04, n} }

// QRBytes returns the GS ( k sequence that prints data as a model 2 QR code with the given
// module size (1–16) and error correction M (hardware.md §5.2).
func QRBytes(data string, module int) []byte {
	if module < 1 || module > 16 {
		module = 6
	}
	k := len(data) + 3
	if k > 0xFFFF {
		// The store-data length field is 16 bits; refuse to emit a corrupt command.
		return nil
	}
	b := make([]byte, 0, 9+8+8+8+len(data)+8)
	b = append(b, 0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00)    // fn 165: model 2
	b = append(b, 0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, byte(module))  // fn 167: module size
	b = append(b, 0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31)          // fn 169: EC level M
	b = append(b, 0x1D, 0x28, 0x6B, byte(k), byte(k>>8), 0x31, 0x50, 0x30) // fn 180: store
	b = append(b, data...)
	b = append(b, 0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30) // fn 181: print
	return b
}
