package httpapi

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// The dashboard speaks Chinese first: every code of the domains (statuses, kinds, categories,
// sanctions) shows as its Chinese name with the English code beside it, and every region code
// with its name. The API keeps the codes alone.

// terms are the Chinese names of the domains' codes, by vocabulary. A code missing here shows
// as itself: nothing is hidden, only left untranslated (TestVocabularyCoversCodes lists them).
var terms = map[string]map[string]string{
	"firm_kind": {"hq": "总部", "branch": "分公司", "outlet": "末端网点"},
	"licence":   {"active": "有效", "suspended": "暂停", "revoked": "已吊销"},
	"site_kind": {"sorting_centre": "分拨中心", "outlet": "营业网点", "locker": "智能快件箱/驿站"},
	"subject":   {"firm": "企业", "site": "网点", "staff": "从业人员"},
	"category": {"supervision": "日常监管", "enforcement": "行政执法", "complaint": "消费者申诉", "media": "媒体曝光",
		"licence": "许可管理", "service_quality": "服务质量", "delivery_safety": "寄递安全"},
	"source": {"regulator": "监管部门", "consumer": "消费者", "merchant": "商家", "platform": "平台", "media": "媒体",
		"firm_self": "企业自报", "system": "系统"},
	"severity": {"minor": "轻微", "general": "一般", "serious": "严重"},
	"record_status": {"pending": "待确认", "confirmed": "已确认", "dismissed": "已驳回", "disputed": "异议中", "upheld": "异议后维持",
		"revoked": "已撤销", "repaired": "已修复"},
	"objection_status": {"pending": "待复核", "upheld": "维持记录", "revoked": "撤销记录"},
	"event": {"collected": "揽收", "arrived": "到达", "departed": "发出", "in_transit": "运输中", "handover": "交接",
		"out_for_delivery": "派件", "held_for_pickup": "待取件", "delivered": "已签收", "delivery_failed": "投递失败",
		"returned": "退回", "exception": "问题件", "lost": "丢失", "damaged": "破损"},
	"incident": {"lost": "丢失", "damaged": "损毁", "delayed": "延误", "false_signature": "虚假签收", "data_leak": "信息泄露",
		"empty_parcel": "空包", "misdelivered": "错投"},
	"anomaly": {"stalled": "停滞", "promise_breached": "超出承诺时限", "implausible_weight": "重量异常", "no_transit": "无中转记录",
		"merchant_burst": "商家单量突增", "reused_second_carrier": "运单号被另一企业复用", "reused_after_delivery": "签收后运单号复用"},
	"sanction": {"redlist": "红名单", "blacklist": "黑名单", "public_exposure": "公开曝光", "platform_restriction": "限制入驻电商平台",
		"suspension": "责令停业整顿", "revocation_proposal": "建议吊销经营许可证"},
	"sanction_status": {"proposed": "待审批", "reviewed": "已初审", "approved": "已批准", "rejected": "已驳回", "lifted": "已解除", "withdrawn": "已撤回"},
	"grade":           {"A": "A级", "B": "B级", "C": "C级", "D": "D级", "insufficient": "数据不足"},
	"role":            {"regulator": "监管部门", "firm": "企业", "merchant": "商家", "platform": "平台", "staff": "从业人员", "metrics": "监控"},
	"token_state":     {"active": "有效", "grace": "轮换宽限期", "revoked": "已吊销", "expired": "已过期"},
}

// term renders code of vocabulary vocab as its Chinese name with the code beside it; the
// template escapes nothing here, so both parts are escaped on the way in.
func term(vocab, code string) template.HTML {
	if code == "" {
		return ""
	}
	c := template.HTMLEscapeString(code)
	zh, ok := terms[vocab][code]
	if !ok {
		return template.HTML(`<span class="term">` + c + `</span>`)
	}
	return template.HTML(`<span class="term">` + template.HTMLEscapeString(zh) + ` <small class="code">` + c + `</small></span>`)
}

// regionTable names GB/T 2260 codes: provinces (xx0000), prefecture-level cities (xxxx00) and
// counties and districts, from web/regions.csv.
type regionTable map[string]string

// readRegions reads the code,name lines of r; lines starting with # are comments.
func readRegions(r io.Reader) (regionTable, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 2
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	t := regionTable{}
	for i, row := range rows {
		if i == 0 && row[0] == "code" {
			continue
		}
		if len(row[0]) != 6 {
			return nil, fmt.Errorf("regions: line %d: code %q is not six digits", i+1, row[0])
		}
		t[row[0]] = row[1]
	}
	return t, nil
}

// placeholders are the city-level entries that are not places of their own (the districts
// of a municipality, the counties a province administers directly): a full name skips them.
var placeholders = map[string]bool{"市辖区": true, "县": true, "省直辖县级行政区划": true, "自治区直辖县级行政区划": true}

// Name is the full name of code: province, city and county as far as they are known
// ("河北省石家庄市栾城区", "北京市朝阳区"); "" when not even the province is.
func (t regionTable) Name(code string) string {
	if len(code) != 6 {
		return ""
	}
	var b strings.Builder
	prev := ""
	for _, c := range []string{code[:2] + "0000", code[:4] + "00", code} {
		if c == prev {
			continue // a province's or a city's own code
		}
		prev = c
		if n, ok := t[c]; ok && !placeholders[n] {
			b.WriteString(n)
		}
	}
	return b.String()
}

// HTML renders code with its name beside it, or the code alone when it is not known.
func (t regionTable) HTML(code string) template.HTML {
	if code == "" {
		return ""
	}
	c := template.HTMLEscapeString(code)
	n := t.Name(code)
	if n == "" {
		return template.HTML(`<span class="term">` + c + `</span>`)
	}
	return template.HTML(`<span class="term">` + template.HTMLEscapeString(n) + ` <small class="code">` + c + `</small></span>`)
}
