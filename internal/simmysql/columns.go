package simmysql

import (
	"github.com/go-mysql-org/go-mysql/mysql"
)

// column is one result column's metadata, as MariaDB 10.11 sends it
// (testdata/mariadb-10.11.json holds what a real server sent; the tests
// compare).
type column struct {
	name     string
	typ      uint8
	flag     uint16
	charset  uint16
	length   uint32
	decimals uint8
}

// Column flags and charsets as the real server sets them.
const (
	flagNotNull   = mysql.NOT_NULL_FLAG
	flagUnsigned  = mysql.UNSIGNED_FLAG
	flagBinary    = mysql.BINARY_FLAG
	flagNoDefault = 4096 // NO_DEFAULT_VALUE_FLAG
	charsetLatin1 = 8    // latin1_swedish_ci: the server's character_set_results
	charsetBinary = 63   // numbers
	notFixedDec   = 39   // NOT_FIXED_DEC: strings and expressions
)

// str is a SHOW statement's string column.
func str(name string, length uint32) column {
	return column{name: name, typ: mysql.MYSQL_TYPE_VAR_STRING, flag: flagNotNull, charset: charsetLatin1, length: length, decimals: notFixedDec}
}

// num is a SHOW statement's unsigned integer column.
func num(name string, typ uint8, length uint32) column {
	return column{name: name, typ: typ, flag: flagNotNull | flagUnsigned | flagBinary, charset: charsetBinary, length: length}
}

// expr is a SELECT's string expression column (@@version, @@datadir...):
// its length is the value's.
func expr(name, value string) column {
	return column{name: name, typ: mysql.MYSQL_TYPE_VAR_STRING, charset: charsetLatin1, length: uint32(len(value)), decimals: notFixedDec}
}

// intExpr is a SELECT's integer expression column.
func intExpr(name string, typ uint8, flag uint16, length uint32) column {
	return column{name: name, typ: typ, flag: flag | flagBinary, charset: charsetBinary, length: length}
}

func (c column) field() *mysql.Field {
	f := &mysql.Field{Name: []byte(c.name), Type: c.typ, Flag: c.flag, Charset: c.charset,
		ColumnLength: c.length, Decimal: c.decimals}
	f.Data = f.Dump()
	return f
}

// slaveStatusColumns are SHOW SLAVE STATUS's columns in MariaDB 10.11.
var slaveStatusColumns = []column{
	str("Slave_IO_State", 30),
	str("Master_Host", 766),
	str("Master_User", 385),
	num("Master_Port", mysql.MYSQL_TYPE_LONG, 7),
	num("Connect_Retry", mysql.MYSQL_TYPE_LONG, 10),
	str("Master_Log_File", 512),
	num("Read_Master_Log_Pos", mysql.MYSQL_TYPE_LONGLONG, 10),
	str("Relay_Log_File", 512),
	num("Relay_Log_Pos", mysql.MYSQL_TYPE_LONGLONG, 10),
	str("Relay_Master_Log_File", 512),
	str("Slave_IO_Running", 3),
	str("Slave_SQL_Running", 3),
	str("Replicate_Do_DB", 20),
	str("Replicate_Ignore_DB", 20),
	str("Replicate_Do_Table", 20),
	str("Replicate_Ignore_Table", 23),
	str("Replicate_Wild_Do_Table", 24),
	str("Replicate_Wild_Ignore_Table", 28),
	num("Last_Errno", mysql.MYSQL_TYPE_LONG, 4),
	str("Last_Error", 20),
	num("Skip_Counter", mysql.MYSQL_TYPE_LONG, 10),
	num("Exec_Master_Log_Pos", mysql.MYSQL_TYPE_LONGLONG, 10),
	num("Relay_Log_Space", mysql.MYSQL_TYPE_LONGLONG, 10),
	str("Until_Condition", 6),
	str("Until_Log_File", 512),
	num("Until_Log_Pos", mysql.MYSQL_TYPE_LONGLONG, 10),
	str("Master_SSL_Allowed", 7),
	str("Master_SSL_CA_File", 512),
	str("Master_SSL_CA_Path", 512),
	str("Master_SSL_Cert", 512),
	str("Master_SSL_Cipher", 512),
	str("Master_SSL_Key", 512),
	num("Seconds_Behind_Master", mysql.MYSQL_TYPE_LONGLONG, 10),
	str("Master_SSL_Verify_Server_Cert", 3),
	num("Last_IO_Errno", mysql.MYSQL_TYPE_LONG, 4),
	str("Last_IO_Error", 20),
	num("Last_SQL_Errno", mysql.MYSQL_TYPE_LONG, 4),
	str("Last_SQL_Error", 20),
	str("Replicate_Ignore_Server_Ids", 512),
	num("Master_Server_Id", mysql.MYSQL_TYPE_LONG, 8),
	str("Master_SSL_Crl", 512),
	str("Master_SSL_Crlpath", 512),
	str("Using_Gtid", 11),
	str("Gtid_IO_Pos", 30),
	str("Replicate_Do_Domain_Ids", 512),
	str("Replicate_Ignore_Domain_Ids", 512),
	str("Parallel_Mode", 12),
	num("SQL_Delay", mysql.MYSQL_TYPE_LONG, 10),
	num("SQL_Remaining_Delay", mysql.MYSQL_TYPE_LONG, 8),
	str("Slave_SQL_Running_State", 20),
	num("Slave_DDL_Groups", mysql.MYSQL_TYPE_LONGLONG, 20),
	num("Slave_Non_Transactional_Groups", mysql.MYSQL_TYPE_LONGLONG, 20),
	num("Slave_Transactional_Groups", mysql.MYSQL_TYPE_LONGLONG, 20),
	str("Replicate_Rewrite_DB", 23),
}

// masterStatusColumns are SHOW MASTER STATUS's.
var masterStatusColumns = []column{
	str("File", 512),
	num("Position", mysql.MYSQL_TYPE_LONGLONG, 20),
	str("Binlog_Do_DB", 255),
	str("Binlog_Ignore_DB", 255),
}

// statusColumns are SHOW STATUS's and SHOW VARIABLES's.
var statusColumns = []column{
	{name: "Variable_name", typ: mysql.MYSQL_TYPE_VAR_STRING, flag: flagNotNull | flagNoDefault, charset: charsetLatin1, length: 64},
	{name: "Value", typ: mysql.MYSQL_TYPE_VAR_STRING, flag: flagNotNull | flagNoDefault, charset: charsetLatin1, length: 4096},
}

// table is a result being built: columns, and rows of values (nil: NULL).
type table struct {
	cols []column
	rows [][]*string
}

func (t *table) add(row ...*string) { t.rows = append(t.rows, row) }

// result encodes t in the text protocol.
func (t *table) result() *mysql.Result {
	rs := &mysql.Resultset{Fields: make([]*mysql.Field, len(t.cols))}
	for i, c := range t.cols {
		rs.Fields[i] = c.field()
	}
	for _, row := range t.rows {
		var b []byte
		for _, v := range row {
			if v == nil {
				b = append(b, 0xfb)
				continue
			}
			b = append(b, mysql.PutLengthEncodedString([]byte(*v))...)
		}
		rs.RowDatas = append(rs.RowDatas, b)
	}
	return mysql.NewResult(rs)
}

// sp returns a pointer to s (a non-NULL value).
func sp(s string) *string { return &s }
