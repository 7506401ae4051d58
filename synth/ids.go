package synth

import (
	"fmt"
	"math/rand/v2"

	"github.com/credtrace/credtrace/courier"
)

// brand is a courier brand of the world: invented names, a waybill prefix each.
type brand struct{ name, prefix string }

var brands = []brand{
	{"顺达速运", "SD"}, {"远航快递", "YH"}, {"捷迅物流", "JX"}, {"万家速递", "WJ"}, {"飞鸿快运", "FH"}, {"安达通快递", "AT"},
	{"天驿速运", "TY"}, {"海川快递", "HC"}, {"云路速递", "YL"}, {"鹏程物流", "PC"}, {"畅行速运", "CX"}, {"金鹿快递", "JL"},
}

type district struct{ code, name string }

type city struct {
	code, name string
	districts  []district
}

// cities are prefecture-level cities of Hebei with some of their districts (GB/T 2260 codes).
var cities = []city{
	{"130100", "石家庄", []district{{"130102", "长安区"}, {"130104", "桥西区"}, {"130105", "新华区"}, {"130108", "裕华区"}, {"130109", "藁城区"}, {"130110", "鹿泉区"}, {"130111", "栾城区"}}},
	{"130200", "唐山", []district{{"130202", "路南区"}, {"130203", "路北区"}, {"130204", "古冶区"}, {"130205", "开平区"}}},
	{"130600", "保定", []district{{"130602", "竞秀区"}, {"130606", "莲池区"}, {"130607", "满城区"}, {"130608", "清苑区"}}},
	{"130400", "邯郸", []district{{"130402", "邯山区"}, {"130403", "丛台区"}, {"130404", "复兴区"}}},
	{"131000", "廊坊", []district{{"131002", "安次区"}, {"131003", "广阳区"}}},
	{"130900", "沧州", []district{{"130902", "新华区"}, {"130903", "运河区"}}},
	{"130500", "邢台", []district{{"130502", "襄都区"}, {"130503", "信都区"}}},
	{"130300", "秦皇岛", []district{{"130302", "海港区"}, {"130303", "山海关区"}, {"130304", "北戴河区"}}},
}

var (
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗",
		"梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕"}
	givenChars = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞", "平",
		"刚", "桂", "英", "华", "建", "国", "文", "辉", "鹏", "宇", "浩", "然", "欣", "怡", "晨", "阳", "志", "海", "峰", "雪"}
	streets   = []string{"中山路", "胜利街", "建设大街", "和平路", "裕华路", "友谊大街", "槐安路", "体育大街", "光明路", "新华路", "青园街", "育才街"}
	estates   = []string{"阳光", "锦绣", "翠湖", "金色", "幸福", "东方", "紫荆", "华府", "康乐", "盛世", "书香", "怡景"}
	goods     = []string{"服饰", "家居", "零食", "数码", "美妆", "母婴", "茶叶", "图书", "鞋包", "日用", "宠物", "运动"}
	shopKinds = []string{"旗舰店", "专营店", "小店", "工厂店", "优选"}
	// phonePrefixes are mainland mobile number blocks.
	phonePrefixes = []string{"130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
		"155", "156", "157", "158", "159", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "199"}
)

func personName(r *rand.Rand) string {
	n := pick(r, surnames) + pick(r, givenChars)
	if r.IntN(3) > 0 {
		n += pick(r, givenChars)
	}
	return n
}

// usccAlphabet is the GB 32100-2015 character set; a character's value is its index.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// uscc makes a unified social credit code of an enterprise (9 1) registered in region: its
// embedded organisation code carries its GB 11714 check character, the whole its GB 32100 one.
func uscc(r *rand.Rand, region string) string {
	body := []byte("MA")
	for len(body) < 8 {
		body = append(body, usccAlphabet[r.IntN(len(usccAlphabet))])
	}
	// GB 11714: digits are their value, letters A=10 … Z=35.
	w := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * w[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		body = append(body, 'X')
	case 11:
		body = append(body, '0')
	default:
		body = append(body, byte('0'+c))
	}
	code := "91" + region + string(body)
	check, _ := courier.USCCCheck(code)
	return code + string(check)
}

// residentID makes a resident ID number (GB 11643) of someone born in region between 1966 and
// 2004.
func residentID(r *rand.Rand, region string) string {
	y, m := 1966+r.IntN(39), 1+r.IntN(12)
	d := 1 + r.IntN(28)
	base := fmt.Sprintf("%s%04d%02d%02d%03d", region, y, m, d, r.IntN(1000))
	check, _ := courier.ResidentIDCheck(base)
	return base + string(check)
}

func phone(r *rand.Rand) string {
	return fmt.Sprintf("%s%08d", pick(r, phonePrefixes), r.IntN(100_000_000))
}
